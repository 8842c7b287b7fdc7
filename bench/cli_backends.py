"""Backend choices for the CLI as flags (they were environment variables once).

The drivers describe a variant as a dict of SLIDESTREAM_* settings; the library now rejects the
variables that used to choose a backend, so those go to the CLI as flags and only the tunables
(include/slidestream/settings.hpp) stay in the environment.
"""

BACKEND_FLAGS = {
    ("SLIDESTREAM_NVJPEG", "0"): ["--no-gpu-jpeg"],
    ("SLIDESTREAM_NVJPEG", "sync"): ["--gpu-jpeg-wait"],
    ("SLIDESTREAM_NVCOMP", "0"): [],  # nvCOMP is opt-in (ReadOptions::gpu_byte_codecs)
    ("SLIDESTREAM_NVCOMP", "1"): ["--gpu-byte-codecs"],
    ("SLIDESTREAM_NVJPEG2K", "0"): ["--gpu-jpeg2000", "off"],
    ("SLIDESTREAM_NVJPEG2K", "lossy"): ["--gpu-jpeg2000", "all"],
    ("SLIDESTREAM_PIPELINE_READ", "device"): ["--read-into-device"],
    ("SLIDESTREAM_PIPELINE_BANDS", "0"): ["--no-bands"],
    ("SLIDESTREAM_BAND_STREAM", "0"): ["--no-band-stream"],
}


def split(env):
    """(the settings to keep in the environment, the CLI flags for the backend choices)."""
    keep, flags = {}, []
    for name, value in (env or {}).items():
        if (name, value) in BACKEND_FLAGS:
            flags += BACKEND_FLAGS[(name, value)]
        else:
            keep[name] = value
    return keep, flags

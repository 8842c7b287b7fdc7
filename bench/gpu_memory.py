"""Device-wide GPU memory, as nvidia-smi counts it, for the benchmarks (issue 16.4).

  with DevicePeak(gpu=0) as peak:
      subprocess.run(...)          # the command measured
  peak.peak_mib                    # most memory in use on the GPU while it ran, device-wide
  bare = bare_context_mib(gpu=0)   # what a bare CUDA context takes on the same GPU, now

Device-wide means everything on the GPU (every process, the driver's reservations), as
nvidia-smi's memory.used: NVML's nvmlDeviceGetMemoryInfo, polled every 2 ms in a thread (through
libnvidia-ml.so.1 with ctypes, so nothing to install; nvidia-smi every 50 ms where NVML cannot be
loaded). A bare context is the primary context, made through the driver API in a child process: what any
CUDA program pays before it allocates anything. Our goal is stated against it, measured in the same
call: `process --mode tiled` at most 512 MiB above (peak - idle - bare), and a read's overhead
beyond its output at most 256 MiB.

Run alone it prints the idle use and the bare context: python3 bench/gpu_memory.py [--gpu 0]
"""
import ctypes
import json
import subprocess
import sys
import threading
import time

MIB = 1 << 20


class _NvmlMemory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                ("used", ctypes.c_ulonglong)]


class UsedMemory:
    """used_bytes(): memory in use on one GPU, device-wide."""

    def __init__(self, gpu=0):
        self.gpu = gpu
        self._nvml = None
        self._handle = None
        try:
            nvml = ctypes.CDLL("libnvidia-ml.so.1")
            if nvml.nvmlInit_v2() != 0:
                raise OSError("nvmlInit_v2 failed")
            handle = ctypes.c_void_p()
            if nvml.nvmlDeviceGetHandleByIndex_v2(gpu, ctypes.byref(handle)) != 0:
                raise OSError(f"no GPU {gpu}")
            self._nvml, self._handle = nvml, handle
            self.source = "NVML"
        except OSError:
            self.source = "nvidia-smi"

    def used_bytes(self):
        if self._nvml is not None:
            info = _NvmlMemory()
            if self._nvml.nvmlDeviceGetMemoryInfo(self._handle, ctypes.byref(info)) == 0:
                return info.used
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,"
                              "nounits", "-i", str(self.gpu)], capture_output=True, text=True,
                             timeout=20)
        return int(out.stdout.strip().splitlines()[0]) * MIB


class DevicePeak:
    """The most memory in use on the GPU while the `with` block runs, device-wide; `samples`
    keeps every reading as (time.perf_counter(), bytes), for when in the block it came."""

    def __init__(self, gpu=0, period=0.002):
        self.meter = UsedMemory(gpu)
        self.period = period if self.meter.source == "NVML" else 0.05
        self.idle_bytes = 0
        self.peak_bytes = 0
        self.samples = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self.idle_bytes = self.peak_bytes = self.meter.used_bytes()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            used = self.meter.used_bytes()
            self.samples.append((time.perf_counter(), used))
            self.peak_bytes = max(self.peak_bytes, used)
            time.sleep(self.period)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self.meter.used_bytes())
        return False

    @property
    def peak_mib(self):
        return self.peak_bytes / MIB

    @property
    def above_idle_mib(self):
        return (self.peak_bytes - self.idle_bytes) / MIB


_BARE_CHILD = r"""
import ctypes, sys
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0, "cuInit"
dev = ctypes.c_int()
assert cuda.cuDeviceGet(ctypes.byref(dev), int(sys.argv[1])) == 0, "cuDeviceGet"
ctx = ctypes.c_void_p()
# The primary context: the one the CUDA runtime (and so every CUDA program) makes.
assert cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0, "cuDevicePrimaryCtxRetain"
assert cuda.cuCtxSetCurrent(ctx) == 0, "cuCtxSetCurrent"
free, total = ctypes.c_size_t(), ctypes.c_size_t()
cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total))
print("ready", flush=True)
sys.stdin.readline()
"""


def bare_context_mib(gpu=0, settle=0.3):
    """Device-wide memory a bare CUDA context adds on `gpu` (a child holds one while we look)."""
    meter = UsedMemory(gpu)
    before = meter.used_bytes()
    child = subprocess.Popen([sys.executable, "-c", _BARE_CHILD, str(gpu)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the bare-context child failed")
        time.sleep(settle)
        held = max(meter.used_bytes() for _ in range(5))
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    return (held - before) / MIB


def measure(cmd, gpu=0, env=None, timeout=600):
    """Runs `cmd`; returns (completed process, DevicePeak)."""
    with DevicePeak(gpu) as peak:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return proc, peak


if __name__ == "__main__":
    gpu = int(sys.argv[sys.argv.index("--gpu") + 1]) if "--gpu" in sys.argv else 0
    meter = UsedMemory(gpu)
    print(json.dumps({"gpu": gpu, "source": meter.source,
                      "idle_mib": round(meter.used_bytes() / MIB, 1),
                      "bare_context_mib": round(bare_context_mib(gpu), 1)}))

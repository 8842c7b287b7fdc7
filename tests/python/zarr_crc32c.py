"""Reference CRC-32C values from google_crc32c (independent of our implementation).

Usage: zarr_crc32c.py FILE START:END [START:END ...]
Prints one line per slice: "START END crc" with crc as 8 lowercase hex digits.
"""
import sys

import google_crc32c


def main() -> int:
    data = open(sys.argv[1], "rb").read()
    for spec in sys.argv[2:]:
        start, end = (int(v) for v in spec.split(":"))
        print(f"{start} {end} {google_crc32c.value(data[start:end]):08x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

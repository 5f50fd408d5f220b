"""Quick start: write a compressed array to a local directory, show its info, read it back."""

import os
import sys

import numpy as np
from numcodecs import Blosc

import zarrkit


def main(path: str = "data/quickstart.zarr") -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    compressor = Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE)
    z = zarrkit.open(
        path, mode="w", shape=(4000, 4000), chunks=(1000, 1000), dtype="i4", compressor=compressor
    )
    data = np.arange(16_000_000, dtype="i4").reshape(4000, 4000)
    z[:] = data
    z.attrs["description"] = "a ramp of integers"
    print(z.info)

    again = zarrkit.open(path, mode="r")
    assert np.array_equal(again[:], data)
    print("read back", again.shape, again.dtype, "from", os.path.abspath(path), "- identical")
    print("a region:", again[1000:1003, 2000:2003].tolist())


if __name__ == "__main__":
    main(*sys.argv[1:])

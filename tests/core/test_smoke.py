import numpy as np

import zarrkit


def test_zeros_write_read_roundtrip():
    z = zarrkit.zeros((100, 100), chunks=(30, 40), dtype="i4")
    z[10:50, 5:95] = 7
    expected = np.zeros((100, 100), dtype="i4")
    expected[10:50, 5:95] = 7
    assert np.array_equal(z[:], expected)

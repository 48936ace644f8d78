"""Column codec benchmarks: speed, size, peers, threads without the GIL, SIMD levels.

Every class shares one ``setup_cache`` (:func:`.common.build_columns`): the
real ``nyharbor_week`` columns (172,679 values each) and the seeded synthetic
series (131,072 values each), passed to ``setup`` and to each benchmark as
the first argument ``cols``.  Times are for one whole column = one block.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from chronotope import codec as ct

from .common import ALL_COLUMNS, MODES, build_columns, five_decimals


class ColumnCodec:
    """chronotope ``encode``/``decode`` of one column in one mode.

    Columns: the four real AIS columns (172,679 values: timestamps, lon, lat,
    object ids) are what the store holds; the seven synthetic ones (131,072
    values) each pin one codec path (worst-case random ints, regular and
    irregular timestamps, 5-decimal and non-decimal floats, a constant, runs)
    so a regression in that path shows up on its own.  Both modes are timed
    because ``compact`` trades speed for size and ``fast`` must stay fast.
    """

    params = (list(ALL_COLUMNS), list(MODES))
    param_names = ["column", "mode"]
    setup_cache = staticmethod(build_columns)
    timeout = 120

    def setup(self, cols, column, mode):
        self.a = cols[column]
        self.block = ct.encode(self.a, mode)

    def time_encode(self, cols, column, mode):
        ct.encode(self.a, mode)

    def time_decode(self, cols, column, mode):
        ct.decode(self.block)

    def track_bytes_per_value(self, cols, column, mode):
        return len(self.block) / self.a.size

    track_bytes_per_value.unit = "bytes/value"


def _peer(name):
    """(encode, decode) callables for a peer codec; NotImplementedError (asv: skip) if missing."""
    try:
        if name == "pcodec":
            import pcodec
            from pcodec import standalone

            config = pcodec.ChunkConfig()
            return (lambda a: standalone.simple_compress(a, config),
                    lambda b, dtype: standalone.simple_decompress(b))
        import blosc2
    except ImportError as exc:
        raise NotImplementedError(f"{name} is not installed: {exc}") from None
    blosc2.set_nthreads(1)
    codec, filters = {
        "blosc2_bytedelta_zstd": (blosc2.Codec.ZSTD, [blosc2.Filter.SHUFFLE, blosc2.Filter.BYTEDELTA]),
        "blosc2_shuffle_lz4": (blosc2.Codec.LZ4, [blosc2.Filter.SHUFFLE]),
    }[name]
    dparams = blosc2.DParams(nthreads=1)

    def encode(a):
        cparams = blosc2.CParams(codec=codec, clevel=5, typesize=a.dtype.itemsize, nthreads=1,
                                 filters=filters, filters_meta=[0] * len(filters))
        return blosc2.compress2(a, cparams=cparams)

    return encode, lambda b, dtype: np.frombuffer(blosc2.decompress2(b, dparams=dparams), dtype=dtype)


class Peers:
    """pcodec (default level) and blosc2 (clevel 5, one thread) on the real columns.

    The same 172,679-value ``t``/``lon``/``lat`` columns as :class:`ColumnCodec`,
    so the asv graphs put chronotope beside the libraries it must beat on size
    (pcodec) and on speed (blosc2 shuffle+lz4); blosc2 bytedelta+zstd is the
    strongest generic float filter chain.
    """

    params = (["t", "lon", "lat"], ["pcodec", "blosc2_bytedelta_zstd", "blosc2_shuffle_lz4"])
    param_names = ["column", "peer"]
    setup_cache = staticmethod(build_columns)
    timeout = 120

    def setup(self, cols, column, peer):
        self.a = cols[column]
        self.enc, self.dec = _peer(peer)
        self.block = self.enc(self.a)

    def time_encode(self, cols, column, peer):
        self.enc(self.a)

    def time_decode(self, cols, column, peer):
        self.dec(self.block, self.a.dtype)

    def track_bytes_per_value(self, cols, column, peer):
        return len(self.block) / self.a.size

    track_bytes_per_value.unit = "bytes/value"


N_BLOCKS = 32
BLOCK_VALUES = 1 << 16


def _independent_blocks():
    """32 blocks of 65,536 values (5-decimal random-walk longitudes), 16 MiB raw."""
    rng = np.random.default_rng(42)
    walk = five_decimals(-74.0 + np.cumsum(rng.normal(0.0, 2e-4, N_BLOCKS * BLOCK_VALUES)))
    return [ct.encode(np.ascontiguousarray(walk[i * BLOCK_VALUES:(i + 1) * BLOCK_VALUES]))
            for i in range(N_BLOCKS)]


class DecodeThreads:
    """Decode 32 independent blocks (65,536 float64 each) with 1 or 2 threads.

    ``decode`` releases the GIL for the C work, so two threads should take
    about half the time of one on a machine with two free cores; if the time
    does not drop, the GIL is being held (a regression).
    ``track_speedup`` reports the ratio to a plain loop in the calling thread
    (best of 9 runs each way): ~1 (minus pool overhead) for 1 thread, ~2 for
    2 threads; only meaningful with two otherwise idle cores.
    """

    params = [1, 2]
    param_names = ["threads"]
    timeout = 120

    def setup(self, threads):
        self.blocks = _independent_blocks()
        self.pool = ThreadPoolExecutor(max_workers=threads)
        list(self.pool.map(ct.decode, self.blocks))  # start the worker threads

    def teardown(self, threads):
        self.pool.shutdown()

    def _decode_all(self, pool):
        list(pool.map(ct.decode, self.blocks))

    def time_decode_threads(self, threads):
        self._decode_all(self.pool)

    def track_speedup(self, threads):
        def best(run):
            times = []
            for _ in range(9):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
            return min(times)

        serial = best(lambda: [ct.decode(b) for b in self.blocks])
        return serial / best(lambda: self._decode_all(self.pool))

    track_speedup.unit = "x vs serial"


class Simd:
    """Decode speed at each SIMD level this CPU offers (``set_simd``; ``auto`` restored after).

    Real ``t`` and ``lon`` columns (172,679 values): integer unpacking and the
    decimal float path both have vector kernels; each level must be correct and
    the wider ones faster.
    """

    params = (list(ct.available_simd()), ["t", "lon"])
    param_names = ["simd", "column"]
    setup_cache = staticmethod(build_columns)
    timeout = 120

    def setup(self, cols, simd, column):
        self.block = ct.encode(cols[column])
        ct.set_simd(simd)

    def teardown(self, cols, simd, column):
        ct.set_simd("auto")

    def time_decode(self, cols, simd, column):
        ct.decode(self.block)

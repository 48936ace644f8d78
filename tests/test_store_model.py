"""Property-based test: random operation sequences against a simple in-memory model."""

import shutil
import tempfile

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import chronotope as ct

OIDS = st.integers(0, 5)
TIMES = st.integers(0, 40)  # small: collisions (last write wins) and partition edges are common


class StoreMachine(RuleBasedStateMachine):
    @initialize()
    def open_store(self):
        self.dir = tempfile.mkdtemp()
        # tiny partitions and blocks: several segments and blocks from few rows
        self.opts = {"rows_per_block": 4, "flush_rows": 50}
        self.db = ct.open(self.dir, fsync="never", **self.opts)
        self.c = self.db.create_collection("c", partition=10, crs="EPSG:3857")
        self.model = {}
        self.counter = 0

    @rule(rows=st.lists(st.tuples(OIDS, TIMES), min_size=1, max_size=30))
    def append(self, rows):
        oid = np.array([r[0] for r in rows], dtype=np.int64)
        t = np.array([r[1] for r in rows], dtype=np.int64)
        x = np.arange(self.counter, self.counter + len(rows), dtype=np.float64)
        self.counter += len(rows)
        self.c.append(oid, t, x, -x)
        for o, tt, xx in zip(oid.tolist(), t.tolist(), x.tolist()):
            self.model[(o, tt)] = xx

    @rule(oid=OIDS, span=st.one_of(st.none(), st.tuples(TIMES, TIMES)))
    def delete(self, oid, span):
        lo, hi = (0, 10**9) if span is None else (min(span), max(span))
        self.c.delete(oid, time=None if span is None else (lo, hi))
        for key in [k for k in self.model if k[0] == oid and lo <= k[1] <= hi]:
            del self.model[key]

    @rule()
    def flush(self):
        self.db.flush()

    @rule()
    def compact(self):
        self.db.compact()

    @rule()
    def reopen(self):
        self.db.close()
        self.db = ct.open(self.dir, fsync="never", **self.opts)
        self.c = self.db.collection("c")

    @rule()
    def crash_and_recover(self):
        self.db._release()  # no flush: recovery must come from the log
        self.db = ct.open(self.dir, fsync="never", **self.opts)
        self.c = self.db.collection("c")

    @invariant()
    def scan_equals_model(self):
        if not hasattr(self, "c"):
            return
        r = self.c.scan().to_dict()
        got = list(zip(r["object_id"].tolist(), r["t"].view(np.int64).tolist(), r["x"].tolist()))
        want = [(o, t, x) for (o, t), x in sorted(self.model.items())]
        assert got == want
        assert np.array_equal(r["y"], -r["x"])

    def teardown(self):
        if hasattr(self, "db"):
            self.db.close()
            shutil.rmtree(self.dir, ignore_errors=True)


StoreMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestStoreModel = StoreMachine.TestCase

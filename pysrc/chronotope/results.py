"""Query results: named numpy columns, with zero-copy exits to Arrow and pandas."""

from __future__ import annotations

import numpy as np

__all__ = ["Result"]


class Result:
    """Rows returned by a read, as named numpy columns of one length.

    ``to_dict()`` gives the arrays themselves (no copy); ``to_arrow()`` wraps
    them without row-by-row Python; ``to_pandas()`` goes through Arrow.

    >>> r = Result({"t": np.array([1, 2]), "x": np.array([0.5, 1.5])})
    >>> len(r), r.columns
    (2, ['t', 'x'])
    >>> r.to_dict()["x"].tolist()
    [0.5, 1.5]
    """

    def __init__(self, columns: dict[str, np.ndarray]):
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"result columns differ in length: {sorted(lengths)}")
        self._columns = columns
        self._len = lengths.pop() if lengths else 0

    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return list(self._columns)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def to_dict(self) -> dict[str, np.ndarray]:
        """Column name -> numpy array (the result's own arrays, not copies)."""
        return dict(self._columns)

    def to_arrow(self):
        """A ``pyarrow.Table`` over the same buffers where the types allow."""
        import pyarrow as pa

        return pa.table({name: pa.array(col) for name, col in self._columns.items()})

    def to_pandas(self):
        """A ``pandas.DataFrame`` (via Arrow)."""
        return self.to_arrow().to_pandas()

    def __repr__(self) -> str:
        return f"Result({self._len} rows; columns {self.columns})"

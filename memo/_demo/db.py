"""The demo's slow data source: a SQLite table of products behind a simulated network delay.

Everything is made on the fly from a seed (the rows and the workload), so two runs with the
same arguments ask the same questions of the same data. The database counts every query it
answers: that count, not a timer, is what shows how much work a cache saved.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from dataclasses import dataclass

__all__ = ["Product", "ProductDB", "zipf_workload"]

_ADJECTIVES = ("red", "quiet", "swift", "sturdy", "tiny", "golden", "smart", "classic")
_NOUNS = ("kettle", "lamp", "chair", "backpack", "teapot", "notebook", "bicycle", "clock")


@dataclass(frozen=True, slots=True)
class Product:
    """One row of the products table."""

    id: int
    name: str
    price: float


class ProductDB:
    """An in-memory SQLite table of `size` products; each query first waits `latency` seconds.

    The wait stands for the network round trip and query time of a real database server. It
    runs outside the connection's lock, so concurrent callers wait side by side, as they
    would on a server.
    """

    def __init__(self, size: int, latency: float, seed: int) -> None:
        self.size = size
        self.latency = latency
        self._lock = threading.Lock()
        self._calls = 0
        self._connection = sqlite3.connect(":memory:", check_same_thread=False)
        self._fill(random.Random(seed))

    def _fill(self, rng: random.Random) -> None:
        rows = [
            (i, f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}", round(rng.uniform(2, 500), 2))
            for i in range(1, self.size + 1)
        ]
        with self._connection:
            self._connection.execute(
                "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL)"
            )
            self._connection.executemany("INSERT INTO products VALUES (?, ?, ?)", rows)

    @property
    def calls(self) -> int:
        """How many queries the database has answered."""
        return self._calls

    def reset_calls(self) -> None:
        """Start counting queries from zero."""
        with self._lock:
            self._calls = 0

    def load(self, product_id: int) -> Product | None:
        """The product with this id (None if there is none), after the simulated latency."""
        if self.latency:
            time.sleep(self.latency)
        return self._query(product_id)

    async def aload(self, product_id: int) -> Product | None:
        """`load` for async callers: the latency is an `asyncio.sleep`."""
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._query(product_id)

    def _query(self, product_id: int) -> Product | None:
        with self._lock:
            self._calls += 1
            row = self._connection.execute(
                "SELECT id, name, price FROM products WHERE id = ?", (product_id,)
            ).fetchone()
        return None if row is None else Product(*row)

    def close(self) -> None:
        """Close the SQLite connection."""
        self._connection.close()

    def __enter__(self) -> ProductDB:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def zipf_workload(calls: int, keys: int, seed: int, skew: float = 1.1) -> list[int]:
    """`calls` product ids in 1..keys, Zipf-distributed: a few are popular, most are rare.

    The i-th most popular id is drawn with weight 1/i**skew, as page views and product
    lookups tend to be; which ids are popular is itself drawn from the seed.
    """
    rng = random.Random(seed)
    ids = list(range(1, keys + 1))
    rng.shuffle(ids)
    weights = [1.0 / rank**skew for rank in range(1, keys + 1)]
    return rng.choices(ids, weights=weights, k=calls)

"""How an ingestion run executes: decoder, device, precision, workers, engine.

None of this is stored with the index: it changes how fast vectors are computed, not what they
mean (a precision that would change them is refused where it is chosen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Engine = Literal["local", "ray"]


@dataclass(frozen=True)
class RuntimeConfig:
    decoder: str = "pyav"  # pyav | decord
    engine: Engine = "local"

    def __post_init__(self) -> None:
        if self.decoder not in ("pyav", "decord"):
            raise ValueError(f"decoder must be 'pyav' or 'decord' (got {self.decoder!r})")
        if self.engine not in ("local", "ray"):
            raise ValueError(f"engine must be 'local' or 'ray' (got {self.engine!r})")

"""What every stored version shares: identity by project folder and registry row."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_nb._project import Project


class StoredVersion:
    """Mixin of the frozen version objects (:class:`DataAsset`, :class:`Model`).

    Two objects are the same version when they are of the same kind and come from the
    same row of the same project, whichever ``Project`` object loaded them.
    """

    project: Project
    id: int
    name: str
    version: int

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (self.project.path, self.id) == (
            other.project.path,  # type: ignore[attr-defined]
            other.id,  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, str(self.project.path), self.id))

    @property
    def label(self) -> str:
        """``"name v<version>"``."""
        return f"{self.name} v{self.version}"

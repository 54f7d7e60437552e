"""Read archive members safely, whether the user kept the zip or unpacked it.

Official archives are opened as downloaded. Members are addressed by their path inside the archive
(``ISIC-2017_Training_Data/ISIC_0000000.jpg``); for an unpacked folder, by the path below the dataset
folder. Unsafe members (absolute paths, ``..``, symbolic links) and zip bombs are refused before any byte
is extracted.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from melanoflow.fileio import BadInputError


@dataclass(frozen=True)
class Limits:
    max_uncompressed_bytes: int
    max_compression_ratio: float


class Archive:
    """Uniform, safe read access to a zip file or a folder."""

    def __init__(self, path: str | Path, limits: Limits):
        self.path = Path(path)
        self.limits = limits
        if self.path.is_dir():
            self._zip = None
            self._members = self._scan_folder()
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            self._members = self._scan_zip()
        else:
            raise BadInputError(f"{self.path}: neither a folder nor a readable zip archive")

    def _scan_zip(self) -> list[str]:
        total = 0
        members = []
        for info in self._zip.infolist():
            name = info.filename
            check_member_name(self.path, name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BadInputError(f"{self.path}: member {name!r} is a symbolic link; refusing to extract it")
            if info.is_dir():
                continue
            total += info.file_size
            if total > self.limits.max_uncompressed_bytes:
                raise BadInputError(
                    f"{self.path}: unpacks to more than {self.limits.max_uncompressed_bytes} bytes "
                    "(ingest.max_uncompressed_bytes); refusing a possible zip bomb"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > self.limits.max_compression_ratio:
                raise BadInputError(
                    f"{self.path}: member {name!r} compresses {ratio:.0f}:1, over ingest.max_compression_ratio "
                    f"= {self.limits.max_compression_ratio}; refusing a possible zip bomb"
                )
            members.append(name)
        return sorted(members)

    def _scan_folder(self) -> list[str]:
        members = []
        for file in self.path.rglob("*"):
            relative = file.relative_to(self.path).as_posix()
            if file.is_symlink():
                raise BadInputError(f"{file}: is a symbolic link; refusing to read through it")
            if file.is_file() and not any(part.startswith(".") for part in PurePosixPath(relative).parts):
                members.append(relative)
        return sorted(members)

    @property
    def members(self) -> list[str]:
        return self._members

    def read(self, member: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(member)
        return (self.path / member).read_bytes()

    def describe(self, member: str) -> str:
        """Where a member came from, for the manifest's ``source`` column and for error messages."""
        return f"{self.path}::{member}" if self._zip is not None else str(self.path / member)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def check_member_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise BadInputError(f"{archive}: member {name!r} has an absolute path; refusing to extract it")
    if ".." in path.parts:
        raise BadInputError(f"{archive}: member {name!r} climbs out of the archive with '..'; refusing it")

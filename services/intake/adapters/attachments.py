"""Intake's attachments in its database (GridFS): stored as given (already checked and, for an
anonymous complaint, rewritten), listed and read back by complaint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from services.intake.domain.attachments import EXTENSIONS
from shared import clock

BUCKET = "attachments"


@dataclass(frozen=True)
class Stored:
    id: str
    content_type: str
    size: int
    filename: str | None
    uploaded_at: datetime
    stripped: bool


class AttachmentStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self._files = db[f"{BUCKET}.files"]

    async def put(
        self, complaint_id: str, data: bytes, content_type: str, filename: str | None, stripped: bool
    ) -> Stored:
        attachment_id = str(ULID())
        await self._bucket.upload_from_stream_with_id(
            attachment_id,
            f"{attachment_id}.{EXTENSIONS[content_type]}",
            data,
            metadata={
                "complaint_id": complaint_id,
                "content_type": content_type,
                "original_name": filename,
                "stripped": stripped,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        return Stored(attachment_id, content_type, len(data), filename, clock.now(), stripped)

    async def count(self, complaint_id: str) -> int:
        return await self._files.count_documents({"metadata.complaint_id": complaint_id})

    async def list(self, complaint_id: str) -> list[Stored]:
        cursor = self._files.find({"metadata.complaint_id": complaint_id}).sort("_id", 1)
        return [_stored(doc) async for doc in cursor]

    async def read(self, complaint_id: str, attachment_id: str) -> tuple[Stored, bytes] | None:
        doc = await self._files.find_one({"_id": attachment_id, "metadata.complaint_id": complaint_id})
        if doc is None:
            return None
        try:
            stream = await self._bucket.open_download_stream(attachment_id)
        except NoFile:
            return None
        return _stored(doc), await stream.read()


def _stored(doc: dict[str, Any]) -> Stored:
    meta = doc.get("metadata") or {}
    return Stored(
        id=doc["_id"],
        content_type=meta["content_type"],
        size=doc["length"],
        filename=meta.get("original_name"),
        uploaded_at=doc["uploadDate"],
        stripped=bool(meta.get("stripped")),
    )


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[f"{BUCKET}.files"].create_index("metadata.complaint_id")
    # GridFS's own indexes, created up front rather than on the first upload.
    await db[f"{BUCKET}.files"].create_index([("filename", 1), ("uploadDate", 1)])
    await db[f"{BUCKET}.chunks"].create_index([("files_id", 1), ("n", 1)], unique=True)

"""LoadData: recognise, record and stage the files of one batch.

Every landed object is checked before anything is staged, so a batch with an unreadable
file fails as a whole (naming the file and why) and leaves no trace that would make a
corrected re-upload look like a duplicate. Staging is idempotent: the same command run
twice stages the same keys and records the same ledger entries.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from shopflow_contracts.envelope import utc_now
from shopflow_contracts.messages import (
    LandedObject,
    LoadCommand,
    LoadOutcome,
    LoadResult,
    SkippedFile,
    StagedFile,
    TaskErrorName,
)
from shopflow_contracts.rows import FileKind
from shopflow_runtime.faults import fault_point
from shopflow_runtime.worker import TaskError

from shopflow_loader.domain.batching import claim_is_live, in_arrival_order, ingest_seq
from shopflow_loader.domain.files import HEADER_PROBE_BYTES, recognise_file, staged_key
from shopflow_loader.ports import Executions, Ledger, ObjectStore

log = logging.getLogger("shopflow.loader")


def file_key(sha256: str) -> str:
    return f"FILE#{sha256}"


@dataclass
class LoadHandler:
    store: ObjectStore
    ledger: Ledger
    executions: Executions
    data_bucket: str

    def handle(self, command: LoadCommand) -> LoadResult:
        batch_id = command.payload.batch_id
        objects = in_arrival_order(command.payload.objects)
        kinds, skipped = self._recognise_all(objects)

        staged: list[StagedFile] = []
        first_key_of_content: dict[str, str] = {}
        for position, landed in enumerate(objects):
            if landed.arrival_id not in kinds:
                continue
            sha256 = self.store.sha256_of(landed.bucket, landed.key, landed.version_id)
            holder = self._file_holder(sha256, batch_id, landed.key)
            earlier_in_batch = first_key_of_content.get(sha256)
            if holder is not None or earlier_in_batch is not None:
                detail = (
                    f"identical content was loaded by batch {holder}"
                    if holder is not None
                    else f"identical to {earlier_in_batch}, uploaded earlier in this batch"
                )
                skipped.append(
                    SkippedFile(
                        source_bucket=landed.bucket,
                        source_key=landed.key,
                        reason="duplicate_content",
                        detail=detail,
                        first_seen_batch_id=holder or batch_id,
                    )
                )
                continue
            first_key_of_content[sha256] = landed.key
            kind = kinds[landed.arrival_id]
            target = staged_key(batch_id, kind, position, landed.key)
            self.store.copy(landed.bucket, landed.key, self.data_bucket, target, landed.version_id)
            self._record_file(sha256, batch_id, landed, kind, target)
            staged.append(
                StagedFile(
                    kind=kind,
                    source_bucket=landed.bucket,
                    source_key=landed.key,
                    bucket=self.data_bucket,
                    key=target,
                    size=landed.size,
                    sha256=sha256,
                    etag=landed.etag,
                    ingest_seq=ingest_seq(landed),
                )
            )
            if len(staged) == 1:
                fault_point("load.mid_download", run_id=batch_id, source_key=landed.key)
        fault_point("load.after_outputs", run_id=batch_id)
        return LoadResult(
            message_id=uuid.uuid4(),
            run_id=command.run_id,
            occurred_at=utc_now(),
            payload=LoadOutcome(batch_id=batch_id, staged=staged, skipped=skipped),
        )

    def _recognise_all(
        self, objects: list[LandedObject]
    ) -> tuple[dict[str, FileKind], list[SkippedFile]]:
        """The kind of each file; a file that is no shop export is skipped with its reason
        when others of the batch are (so one junk file costs its batch-mates nothing: the
        soak found 28 good files failed with one), and fails the batch when none is."""
        kinds: dict[str, FileKind] = {}
        problems: list[tuple[LandedObject, str, bool]] = []
        for landed in objects:
            size = self.store.size_of(landed.bucket, landed.key, landed.version_id)
            if size is None:
                problems.append((landed, "the uploaded object no longer exists", False))
                continue
            prefix = (
                b""
                if size == 0
                else self.store.read_prefix(
                    landed.bucket, landed.key, HEADER_PROBE_BYTES, landed.version_id
                )
            )
            recognition = recognise_file(prefix, total_size=size)
            if recognition.kind is None:
                problems.append((landed, recognition.problem or "unrecognised file", size == 0))
            else:
                kinds[landed.arrival_id] = recognition.kind
        vanished = [problem for problem in problems if problem[1].startswith("the uploaded")]
        if problems and (not kinds or vanished):
            reason = "; ".join(f"{landed.key}: {problem}" for landed, problem, _ in problems)
            raise TaskError(
                TaskErrorName.UNRECOGNISED_FILE,
                f"cannot load {len(problems)} file(s): {reason}",
                files=[landed.key for landed, _, _ in problems],
            )
        skipped = [
            SkippedFile(
                source_bucket=landed.bucket,
                source_key=landed.key,
                reason="empty_file" if empty else "unrecognised_header",
                detail=problem,
            )
            for landed, problem, empty in problems
        ]
        for entry in skipped:
            log.warning(
                "%s skipped: %s", entry.source_key, entry.detail, extra={"reason": entry.reason}
            )
        return kinds, skipped

    def _file_holder(self, sha256: str, batch_id: str, key: str) -> str | None:
        """The other live batch that already loaded this exact content, if any.

        The same key uploaded again got past the trigger only because the key held other
        content in between: a correction back to earlier bytes, which must be loaded.
        """
        entry = self.ledger.get(file_key(sha256))
        if entry is None or entry.batch_id == batch_id or entry.attributes.get("key") == key:
            return None
        if claim_is_live(self.executions.state(entry.batch_id)):
            return entry.batch_id
        return None

    def _record_file(
        self, sha256: str, batch_id: str, landed: LandedObject, kind: FileKind, target: str
    ) -> None:
        current = self.ledger.get(file_key(sha256))
        stale = current.batch_id if current and current.batch_id != batch_id else None
        attributes = {
            "bucket": landed.bucket,
            "key": landed.key,
            "etag": landed.etag,
            "size": str(landed.size),
            "sha256": sha256,
            "kind": kind.value,
            "staged_key": target,
        }
        if not self.ledger.claim(file_key(sha256), batch_id, attributes, replacing=stale):
            raise TaskError(
                TaskErrorName.TRANSIENT,
                f"file ledger entry for {landed.key} changed while loading; retrying",
                files=[landed.key],
            )

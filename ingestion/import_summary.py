"""What an import reports: counts per file and bucket, the report lines, the summary line."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.standard import CleanRow

BUCKETS = ("created", "updated", "unchanged", "merged", "rejected")
BUCKET_LABELS = {"created": "créés", "updated": "mis à jour", "unchanged": "inchangés",
                 "merged": "fusionnés", "rejected": "rejetés"}
REPORT_COLUMNS = ("fichier", "ligne", "id", "niveau", "champ", "valeur", "message")


@dataclass
class FileSummary:
    path: str
    kind: str
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))


@dataclass
class ImportSummary:
    source: str
    files: list[FileSummary] = field(default_factory=list)
    report: list[dict[str, Any]] = field(default_factory=list)
    closed: int = 0
    merges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {bucket: sum(f.counts[bucket] for f in self.files) for bucket in BUCKETS}

    @property
    def warnings(self) -> int:
        return sum(1 for line in self.report if line["niveau"] == "avertissement")

    def summary_line(self) -> str:
        counts = self.counts
        parts = ", ".join(f"{counts[b]} {BUCKET_LABELS[b]}" for b in BUCKETS)
        closed = f", {self.closed} fermés (absents du fichier)" if self.closed else ""
        rows = sum(f.rows for f in self.files)
        return f"Import « {self.source} » : {rows} lignes — {parts}{closed} ; {self.warnings} avertissements."

    def write_report(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(self.report)



def _report(summary: ImportSummary, file_summary: FileSummary, row: CleanRow) -> None:
    for issue in row.issues:
        summary.report.append({
            "fichier": Path(file_summary.path).name, "ligne": row.line, "id": row.source_id,
            "niveau": issue.level, "champ": issue.field,
            "valeur": "" if issue.value is None else str(issue.value), "message": issue.message,
        })

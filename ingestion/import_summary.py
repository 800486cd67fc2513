"""What an import reports: counts per file and bucket, the report lines, the summary line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directory.csv_files import SafeDictWriter
from directory.french import count
from ingestion.standard import CleanRow, Issue

BUCKETS = ("created", "updated", "unchanged", "merged", "rejected")
# (singular, plural): French agreement, « 1 créé », « 0 rejeté », « 2 créés »
BUCKET_LABELS = {"created": ("créé", "créés"), "updated": ("mis à jour", "mis à jour"),
                 "unchanged": ("inchangé", "inchangés"), "merged": ("fusionné", "fusionnés"),
                 "rejected": ("rejeté", "rejetés")}
REPORT_COLUMNS = ("fichier", "ligne", "id", "niveau", "champ", "valeur", "message")


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(count(counts[b], *BUCKET_LABELS[b]) for b in BUCKETS)


@dataclass
class FileSummary:
    """One imported file: how it was read (`kind`), its rows and how many landed in each bucket."""

    path: str
    kind: str
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))

    def summary_line(self) -> str:
        return f"{Path(self.path).name} ({self.kind}) : {_counts_text(self.counts)}"


@dataclass
class ImportSummary:
    """One import of a source: its files, the report lines (rejects, warnings, merges), closures."""

    source: str
    files: list[FileSummary] = field(default_factory=list)
    report: list[dict[str, Any]] = field(default_factory=list)
    closed: int = 0
    reopened: int = 0
    merges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {bucket: sum(f.counts[bucket] for f in self.files) for bucket in BUCKETS}

    @property
    def warnings(self) -> int:
        return sum(1 for line in self.report if line["niveau"] == "avertissement")

    def summary_line(self) -> str:
        parts = _counts_text(self.counts)
        closed = f", {count(self.closed, 'fermé')} (absents du fichier)" if self.closed else ""
        reopened = f", {count(self.reopened, 'rouvert')} (revenus dans le fichier)" if self.reopened else ""
        rows = sum(f.rows for f in self.files)
        return (f"Import « {self.source} » : {count(rows, 'ligne')} — {parts}{closed}{reopened} ; "
                f"{count(self.warnings, 'avertissement')}.")

    def write_report(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = SafeDictWriter(handle, fieldnames=REPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(self.report)

    def add_issue(self, file: FileSummary, row: CleanRow, issue: Issue) -> None:
        self.report.append({
            "fichier": Path(file.path).name, "ligne": row.line, "id": row.source_id,
            "niveau": issue.level, "champ": issue.field,
            "valeur": "" if issue.value is None else str(issue.value), "message": issue.message,
        })

"""What a reader saw: files, bytes, lines, malformed lines and the problems met (capped)."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PROBLEMS = 100


@dataclass
class ReadReport:
    """Counts and problems of one read; ``problems`` keeps the first MAX_PROBLEMS messages.

    ``notes`` holds assumptions the reader made (e.g. a time zone); ``counts`` holds
    reader-specific tallies (e.g. ``duplicates_removed``).
    """

    files_read: int = 0
    files_missing: int = 0
    bytes_read: int = 0
    lines_read: int = 0
    malformed_lines: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    problems_dropped: int = 0

    def problem(self, message: str) -> None:
        """Record a problem, keeping at most MAX_PROBLEMS messages (the rest are counted)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)
        else:
            self.problems_dropped += 1

    def count(self, name: str, value: int) -> None:
        """Add ``value`` to the tally ``name``."""
        self.counts[name] = self.counts.get(name, 0) + int(value)

    def summary(self) -> str:
        """One line for a log."""
        text = (
            f"{self.files_read} files read ({self.bytes_read / 1e6:.1f} MB, "
            f"{self.lines_read} lines), {self.files_missing} missing, "
            f"{self.malformed_lines} malformed lines"
        )
        if self.counts:
            text += ", " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return text

"""Evidence: raw responses as AWS returned them, from a live account or from files."""

from sfn_forensics.evidence.model import Evidence, S3Object, SourceStatus

__all__ = ["Evidence", "S3Object", "SourceStatus"]

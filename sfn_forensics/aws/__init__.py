"""Read-only AWS access: one boto3 session, guarded clients, paging and error mapping."""

from sfn_forensics.aws.session import AwsOptions, ClientFactory

__all__ = ["AwsOptions", "ClientFactory"]

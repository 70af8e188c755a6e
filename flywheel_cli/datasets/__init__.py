"""Datasets per workload: curation, reproducible stratified splits, ICL variants, NMP-ready files, upload.

Entry points: `build_dataset` (build or find), `get_dataset` (a stored manifest), `audit_dataset` (leakage check on
the files) and `upload_dataset` (to a Platform, once per content and destination).
"""

from flywheel_cli.datasets.audit import audit_dataset
from flywheel_cli.datasets.build import BuildResult, build_dataset, dataset_dir, get_dataset
from flywheel_cli.datasets.upload import UploadOutcome, remote_name, upload_dataset, upload_dataset_detailed

__all__ = [
    "BuildResult",
    "UploadOutcome",
    "audit_dataset",
    "build_dataset",
    "dataset_dir",
    "get_dataset",
    "remote_name",
    "upload_dataset",
    "upload_dataset_detailed",
]

"""Batch scoring: a large file or a directory of Parquet files, partition by partition.

:mod:`.batch` runs a job (``just score``): it exports the version's verified
bundle once and fans the input's partitions out on the compute backend;
:mod:`.task` is what scores one partition on a worker and writes its part;
:mod:`.output` stages the parts beside the output and moves them into place
whole; :mod:`.commands` wires the job into the CLI. Importing this package is
cheap: the modules load pandas, pyarrow and the registry when imported themselves.
"""

"""int-exp: experiment management for Intervention Training (InT) research.

Importing the package is cheap on purpose: torch, transformers, vllm and mlflow are imported
only inside the stages and backends that need them.
"""

__version__ = "0.1.0"

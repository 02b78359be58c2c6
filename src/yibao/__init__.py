"""yibao — an open-source medical insurance information platform (医疗保障信息平台)."""

__version__ = "0.1.0"

"""The web pages: the bureau's console (/console) and the insured person's portal (/portal)."""

from yibao.web.console import console_router

__all__ = ["console_router"]

"""A joint audit case's stages (智能互查 → 现场联审 → 查实 → 追回, or 结案 without violation) and the
split of a recovery over the settlements it came from (docs/supervision.md "Joint audit cases")."""

from __future__ import annotations

from collections.abc import Sequence

from yibao.domain.errors import DomainError
from yibao.domain.money import Fen

CROSS_CHECK = "cross_check"
ON_SITE = "on_site"
CONFIRMED = "confirmed"
RECOVERED = "recovered"
CLOSED = "closed"

STAGES = (CROSS_CHECK, ON_SITE, CONFIRMED, RECOVERED, CLOSED)
STAGE_LABELS = {
    CROSS_CHECK: "智能互查",
    ON_SITE: "现场联审",
    CONFIRMED: "查实",
    RECOVERED: "已追回",
    CLOSED: "结案（无违规）",
}

NEXT: dict[str, frozenset[str]] = {
    CROSS_CHECK: frozenset({ON_SITE, CLOSED}),
    ON_SITE: frozenset({ON_SITE, CONFIRMED, CLOSED}),  # on-site results come item by item
    CONFIRMED: frozenset({RECOVERED}),
    RECOVERED: frozenset(),
    CLOSED: frozenset(),
}

CONFIRMED_ITEM = "confirmed"
CLEARED_ITEM = "cleared"
ITEM_RESULTS = {CONFIRMED_ITEM: "查实违规", CLEARED_ITEM: "排除"}


def move(case_id: str, stage: str, to: str) -> str:
    """The stage the case moves to; DomainError naming ``stage`` when the case cannot go there."""
    if to not in NEXT.get(stage, frozenset()):
        allowed = "、".join(STAGE_LABELS[s] for s in sorted(NEXT.get(stage, frozenset()))) or "无"
        raise DomainError(
            "stage", f"案件 {case_id} 处于{STAGE_LABELS.get(stage, stage)}阶段，不能转为{STAGE_LABELS.get(to, to)}"
            f"（可转为：{allowed}）"
        )  # fmt: skip
    return to


def check_review(result: str, reviewed_amount: Fen, item_amount: Fen) -> None:
    """An on-site result: confirmed or cleared, over 0 … the item's amount."""
    if result not in ITEM_RESULTS:
        raise DomainError("result", f"现场联审结果须为 confirmed（查实）或 cleared（排除），而不是 {result!r}")
    if not 0 <= reviewed_amount <= item_amount:
        raise DomainError("reviewed_amount", f"联审金额 {reviewed_amount} 分须在 0 与疑点金额 {item_amount} 分之间")


def check_recover_amount(recover_amount: Fen, confirmed_amount: Fen) -> None:
    """The amount to recover: positive and at most what the on-site review confirmed."""
    if not 0 < recover_amount <= confirmed_amount:
        raise DomainError(
            "recover_amount", f"追回金额 {recover_amount} 分须大于 0 且不超过查实的联审金额 {confirmed_amount} 分"
        )


def split(total: Fen, weights: Sequence[tuple[str, Fen]]) -> dict[str, Fen]:
    """``total`` over the keys in proportion to their weights, in whole fen (largest remainder: the
    shares add up to ``total`` exactly; ties go to the earlier key)."""
    positive = [(key, w) for key, w in weights if w > 0]
    whole = sum(w for _, w in positive)
    if total < 0 or (total and not whole):
        raise DomainError("weights", f"无法按权重分摊 {total} 分")
    shares = {key: 0 for key, _ in positive}
    floors: list[tuple[int, int, str]] = []
    for order, (key, w) in enumerate(positive):
        share, remainder = divmod(total * w, whole) if whole else (0, 0)
        shares[key] += share
        floors.append((-remainder, order, key))
    for _, _, key in sorted(floors)[: total - sum(shares.values())]:
        shares[key] += 1
    return {key: amount for key, amount in shares.items() if amount}

"""The ledger's rules, without a database: what makes a transaction valid, the hash that names a
ledger state, and the replay that derives positions and cash from the transactions.

Each rule answers with every problem it finds (`Problem`: the field and what to fix) instead of
stopping at the first, so a CSV import can report every bad cell of every row at once.

Replay order: transactions are replayed by trade date, and in ledger order (commit, line) within
one date. A split booked in a later commit than a buy dated after it does not multiply that buy,
and a sell backdated before the buy it sells from is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from batonflow.apps.portfolio.model import KINDS, TRADES, Position, Txn

_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_CURRENCY = re.compile(r"[A-Z]{3}")
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-^=]{0,31}")
STORED = 48  # characters of the decimal column (`store.columns.Dec`)
EXACT = 100  # significant digits amounts and quantities are worked with: no rounding
SHARE = 28  # significant digits of the cost left after a sell (a ratio: it may not end)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class NewTxn:
    """A transaction as given (by the API or a CSV row), before it is checked. `amount` left
    out is worked out (a trade's from quantity, price and fee; a split's is 0); `currency` left
    out is the portfolio's base currency."""

    kind: str
    trade_date: date
    account_id: str
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    fee: Decimal = ZERO
    currency: str | None = None
    ratio: Decimal | None = None
    note: str = ""


def parse_decimal(text: str) -> Decimal:
    """A plain decimal ("1234.5", "-0.25"); ValueError naming what is wrong otherwise: no
    exponents ("1e5"), no NaN or infinity, no thousands separators."""
    cleaned = text.strip()
    if not _PLAIN.fullmatch(cleaned):
        raise ValueError(f"'{text}' is not a plain decimal number (like 1234.56)")
    return storable(Decimal(cleaned))


def canonical(value: Decimal) -> Decimal:
    """`value` with its trailing zeros dropped (and -0 as 0): one spelling per number."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    if value == 0:
        return ZERO
    with localcontext(prec=EXACT):  # normalize() rounds to the context's precision
        return value.normalize()


def storable(value: Decimal) -> Decimal:
    """`canonical(value)`, which must fit the ledger's decimal column once written out."""
    normal = canonical(value)
    if len(format(normal, "f")) > STORED:
        raise ValueError(f"{value} is too long to store: {STORED} characters at most, written out")
    return normal


def text(value: Decimal | None) -> str | None:
    """The canonical text of a decimal: the same as it is stored and hashed."""
    return None if value is None else format(canonical(value), "f")


def check_currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise ValueError(f"'{value}' is not an ISO 4217 currency code (three capitals, like USD)")
    return value


def check_symbol(value: str) -> str:
    if not _SYMBOL.fullmatch(value):
        raise ValueError(f"'{value}' is not a symbol (capitals and digits, like AAPL)")
    return value


def trade_amount(kind: str, quantity: Decimal, price: Decimal, fee: Decimal) -> Decimal:
    """A trade's cash effect: a buy pays quantity * price and the fee, a sell gets quantity *
    price less the fee."""
    with localcontext(prec=EXACT):
        gross = quantity * price
        return storable(-gross - fee if kind == "buy" else gross - fee)


def _trade(new: NewTxn, problems: list[Problem]) -> Decimal | None:
    if new.quantity is None or new.quantity <= 0:
        problems.append(Problem("quantity", f"a {new.kind} needs a quantity above 0"))
    if new.price is None or new.price < 0:
        problems.append(Problem("price", f"a {new.kind} needs a price of 0 or more"))
    if new.ratio is not None:
        problems.append(Problem("ratio", f"a {new.kind} has no ratio (a split has)"))
    if problems or new.quantity is None or new.price is None:
        return None
    try:
        computed = trade_amount(new.kind, new.quantity, new.price, new.fee)
    except ValueError as exc:
        problems.append(Problem("amount", f"quantity * price gives an amount {exc}"))
        return None
    if new.amount is not None and canonical(new.amount) != computed:
        side = "-(quantity * price) - fee" if new.kind == "buy" else "quantity * price - fee"
        problems.append(
            Problem(
                "amount",
                f"a {new.kind}'s amount is {side} = {text(computed)}; "
                f"{text(new.amount)} was given (leave it empty to have it worked out)",
            )
        )
    return computed


_SIGNS = {"deposit": 1, "dividend": 1, "withdrawal": -1, "fee": -1}


def _cash(new: NewTxn, problems: list[Problem]) -> Decimal | None:
    for name in ("quantity", "price", "ratio"):
        if getattr(new, name) is not None:
            problems.append(Problem(name, f"a {new.kind} has no {name}; leave it empty"))
    if new.fee != 0:
        problems.append(Problem("fee", f"a {new.kind} has no fee; record a fee as its own row"))
    if new.kind == "dividend" and not new.symbol:
        problems.append(Problem("symbol", "a dividend needs the symbol that paid it"))
    sign = _SIGNS[new.kind]
    if new.amount is None or new.amount == 0 or (new.amount > 0) != (sign > 0):
        word = "positive" if sign > 0 else "negative (its effect on cash, like -25)"
        problems.append(Problem("amount", f"a {new.kind} needs an amount, {word}"))
        return None
    return canonical(new.amount)


def _split(new: NewTxn, problems: list[Problem]) -> Decimal | None:
    if not new.symbol:
        problems.append(Problem("symbol", "a split needs the symbol that split"))
    if new.ratio is None or new.ratio <= 0:
        problems.append(Problem("ratio", "a split needs a ratio above 0 (new shares per old)"))
    for name in ("quantity", "price"):
        if getattr(new, name) is not None:
            problems.append(Problem(name, f"a split has no {name}; leave it empty"))
    if new.fee != 0:
        problems.append(Problem("fee", "a split has no fee"))
    if new.amount is not None and new.amount != 0:
        problems.append(Problem("amount", "a split moves no cash: its amount is 0 or empty"))
    return ZERO


def validate(new: NewTxn, base_currency: str) -> tuple[Txn | None, list[Problem]]:
    """The transaction to record, or every problem with it."""
    problems: list[Problem] = []
    if new.kind not in KINDS:
        return None, [Problem("kind", f"'{new.kind}' is not a kind; one of {', '.join(KINDS)}")]
    for name in ("quantity", "price", "amount", "fee", "ratio"):
        given = getattr(new, name)
        try:
            storable(given) if given is not None else None
        except ValueError as exc:
            problems.append(Problem(name, str(exc)))
    if problems:
        return None, problems
    if new.fee < 0:
        problems.append(Problem("fee", "a fee is 0 or more"))
    if new.symbol is not None:
        try:
            check_symbol(new.symbol)
        except ValueError as exc:
            problems.append(Problem("symbol", str(exc)))
    currency = new.currency or base_currency
    try:
        check_currency(currency)
    except ValueError as exc:
        problems.append(Problem("currency", str(exc)))
    if new.kind in TRADES:
        if not new.symbol:
            problems.append(Problem("symbol", f"a {new.kind} needs a symbol"))
        amount = _trade(new, problems)
    elif new.kind == "split":
        amount = _split(new, problems)
    else:
        amount = _cash(new, problems)
    if problems or amount is None:
        return None, problems
    return (
        Txn(
            kind=new.kind,
            trade_date=new.trade_date,
            account_id=new.account_id,
            symbol=new.symbol or None,
            quantity=None if new.quantity is None else canonical(new.quantity),
            price=None if new.price is None else canonical(new.price),
            amount=amount,
            fee=canonical(new.fee),
            currency=currency,
            ratio=None if new.ratio is None else canonical(new.ratio),
        ),
        [],
    )


def commit_hash(parent_hash: str, txns: Iterable[Txn]) -> str:
    """The hash naming the ledger once these transactions are added after `parent_hash`: sha256
    over the parent's hash and the canonical JSON of the transactions in order."""
    body = [
        {
            "kind": t.kind,
            "date": t.trade_date.isoformat(),
            "account_id": t.account_id,
            "symbol": t.symbol,
            "quantity": text(t.quantity),
            "price": text(t.price),
            "amount": text(t.amount),
            "fee": text(t.fee),
            "currency": t.currency,
            "ratio": text(t.ratio),
        }
        for t in txns
    ]
    canonical_json = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(parent_hash.encode() + canonical_json.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Oversold:
    """A transaction the replay cannot apply: a sell of more than the account held at that
    point (kind "sell"), a split of a symbol it did not hold ("split"), or a trade in another
    currency than the position's ("currency": its cost would mix currencies)."""

    index: int  # the transaction's place in the list replayed
    symbol: str
    held: Decimal
    asked: Decimal
    trade_date: date
    kind: str = "sell"

    currency: str = ""

    @property
    def field(self) -> str:
        return {"sell": "quantity", "split": "ratio"}.get(self.kind, "currency")

    @property
    def message(self) -> str:
        if self.kind == "currency":
            return (
                f"the account holds {self.symbol} in {self.currency}; a trade of it in another "
                "currency would mix currencies in its cost"
            )
        if self.kind == "split":
            return (
                f"a split of {self.symbol} on {self.trade_date.isoformat()}, but the account "
                "holds none then"
            )
        return (
            f"selling {text(self.asked)} {self.symbol} on {self.trade_date.isoformat()}, but the "
            f"account holds {text(self.held)} then"
        )


@dataclass
class Replay:
    positions: dict[tuple[str, str], Position]
    cash: dict[str, Decimal]
    oversold: list[Oversold]


def replay(txns: list[Txn]) -> Replay:
    """Positions (average cost: a buy adds what it cost, fee included; a sell takes away its
    share of the cost; a split multiplies the quantity and keeps the cost) and cash by currency.
    A transaction that cannot be applied (`Oversold`) is reported and left out."""
    with localcontext(prec=EXACT):  # sums and products exact; only the cost share rounds
        return _replay(txns)


def _replay(txns: list[Txn]) -> Replay:
    order = sorted(range(len(txns)), key=lambda i: (txns[i].trade_date, i))
    held: dict[tuple[str, str], Position] = {}
    cash: dict[str, Decimal] = {}
    oversold: list[Oversold] = []
    for index in order:
        t = txns[index]
        key = (t.account_id, t.symbol or "")
        now = held.get(key)
        if t.kind in ("buy", "sell") and now is not None and now.currency != t.currency:
            oversold.append(
                Oversold(index, key[1], ZERO, ZERO, t.trade_date, "currency", now.currency)
            )
            continue
        if t.kind == "sell" and t.quantity is not None:
            have = now.quantity if now else ZERO
            if t.quantity > have or now is None:
                oversold.append(Oversold(index, t.symbol or "", have, t.quantity, t.trade_date))
                continue
            left = have - t.quantity
            with localcontext(prec=SHARE):  # the share of the cost kept: a ratio, rounded
                cost = canonical(now.cost * left / have) if left else ZERO
            _put(held, key, Position(t.account_id, key[1], canonical(left), cost, now.currency))
        elif t.kind == "buy" and t.quantity is not None and t.price is not None:
            paid = -t.amount  # what the buy cost, its fee included
            if now is None:
                now = Position(t.account_id, key[1], ZERO, ZERO, t.currency)
            total = Position(
                t.account_id,
                key[1],
                canonical(now.quantity + t.quantity),
                canonical(now.cost + paid),
                now.currency,
            )
            _put(held, key, total)
        elif t.kind == "split" and t.ratio is not None:
            if now is None:
                oversold.append(Oversold(index, key[1], ZERO, ZERO, t.trade_date, "split"))
                continue
            quantity = canonical(now.quantity * t.ratio)
            _put(held, key, Position(t.account_id, key[1], quantity, now.cost, now.currency))
        cash[t.currency] = canonical(cash.get(t.currency, ZERO) + t.amount)
    return Replay(held, cash, oversold)


def _put(held: dict[tuple[str, str], Position], key: tuple[str, str], position: Position) -> None:
    if position.quantity == 0:
        held.pop(key, None)
    else:
        held[key] = position

"""Field access for table words, derived from firmware.formats layouts (never retyped here)."""

from __future__ import annotations

from amaranth.hdl import Cat, Value


def unpack(layout, word: Value) -> dict[str, Value]:
    """The fields of a packed word as Amaranth values (signed fields as signed values)."""
    out = {}
    for field in layout.fields:
        at = layout.offsets[field.name]
        value = word[at:at + field.width]
        out[field.name] = value.as_signed() if field.signed else value
    return out


def pack(layout, **values) -> Value:
    """A packed word from field values (each truncated to its field's width)."""
    names = {f.name for f in layout.fields}
    if set(values) != names:
        raise ValueError(f"layout {layout.name}: give exactly the fields {sorted(names)}")
    return Cat(*(Value.cast(values[f.name])[:f.width] for f in layout.fields))

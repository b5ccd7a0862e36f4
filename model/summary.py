"""A Keras-style ``model.summary()`` for a network, with the same parameter counts."""

from __future__ import annotations

from .network import LAB_NETWORK, Network


def summary(network: Network = LAB_NETWORK, name: str = "my_model") -> str:
    """The table Keras prints for the equivalent Sequential model (the lab's: 10025, 390, 16; 10,431 total)."""
    rows = [("Layer (type)", "Output Shape", "Param #")]
    total = 0
    for layer_name, ((n_in, n_out), _) in zip(network.layer_names, network.shapes, strict=True):
        count = n_in * n_out + n_out
        total += count
        rows.append((f"{layer_name} (Dense)", f"(None, {n_out})", f"{count:,}"))
    widths = [max(len(r[i]) for r in rows) + 4 for i in range(3)]
    rule = "-" * sum(widths)

    def line(r: tuple[str, str, str]) -> str:
        return "".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()

    out = [f'Model: "{name}"', rule.replace("-", "="), line(rows[0]), rule.replace("-", "=")]
    out += [line(r) for r in rows[1:]]
    out += [rule.replace("-", "="), f"Total params: {total:,}", f"Trainable params: {total:,}",
            "Non-trainable params: 0"]
    return "\n".join(out)

"""A Keras-style ``model.summary()`` for a network, with the same parameter counts."""

from __future__ import annotations

from typing import Any

from .network import LAB_NETWORK, Network


def summary(network: Any = LAB_NETWORK, name: str = "my_model") -> str:
    """The table Keras prints for the equivalent Sequential model (the lab's: 10025, 390, 16; 10,431 total).

    ``network``: a :class:`Network`, or anything that has one as ``.network`` (``Params``, ``xpnet.Model``).
    """
    net = network if isinstance(network, Network) else getattr(network, "network", None)
    if not isinstance(net, Network):
        raise TypeError(f"summary takes a Network, Params or Model, got {type(network).__name__}")
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for layer_name, ((n_in, n_out), _) in zip(net.layer_names, net.shapes, strict=True):
        rows.append((f"{layer_name} (Dense)", f"(None, {n_out})", f"{n_in * n_out + n_out:,}"))
    widths = [max(len(r[i]) for r in rows) + 4 for i in range(3)]
    rule = "=" * sum(widths)

    def line(r: tuple[str, str, str]) -> str:
        return "".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()

    out = [f'Model: "{name}"', rule, line(rows[0]), rule, *(line(r) for r in rows[1:]), rule,
           f"Total params: {net.count:,}", f"Trainable params: {net.count:,}", "Non-trainable params: 0"]
    return "\n".join(out)

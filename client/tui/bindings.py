"""Key binding descriptions in the user's language.

A ``BINDINGS`` entry of a konsel screen or widget gives a catalog key as its description
(``"app.keys.help"``). :func:`localize_bindings` swaps those keys for the catalog text on
one node, starting again from the class's own bindings, so it can run after every
language switch.
"""

from __future__ import annotations

from dataclasses import replace

from textual.dom import DOMNode

from . import catalog


def localize_bindings(node: DOMNode) -> None:
    """Replace catalog keys in ``node``'s binding descriptions with the current text."""
    merged = type(node)._merged_bindings
    if merged is None:
        return
    texts = catalog.current().texts
    for key, bindings in merged.key_to_bindings.items():
        node._bindings.key_to_bindings[key] = [
            replace(binding, description=catalog.t(binding.description))
            if binding.description in texts
            else binding
            for binding in bindings
        ]
    node.refresh_bindings()

"""Gradio components of the app's own (Gradio writes a type stub, ``components.pyi``, beside the
module that defines a component class: git ignores it)."""
from __future__ import annotations

import gradio as gr


class RuntimeChoices(gr.Dropdown):
    """A dropdown whose choices are set while the app runs (moments found, a visitor's videos).
    Gradio's API description of a dropdown lists the choices it was built with — none here — so
    this one describes its value by :attr:`api_type` (a JSON schema) instead, and leaves checking
    the value to its handlers. The page draws it as Gradio's own dropdown (a template component)."""

    is_template = True
    api_type: dict = {"type": "string"}

    def api_info(self) -> dict:
        return self.api_type

    def preprocess(self, payload):
        """The value as sent: the handler checks it against what it holds now (choices set while
        the page runs are not known to an API client's session)."""
        return payload


def runtime_choices(api_type: dict, **kwargs) -> RuntimeChoices:
    """A :class:`RuntimeChoices` (Dropdown's arguments) whose API value is ``api_type``."""
    dropdown = RuntimeChoices([], **kwargs)
    dropdown.api_type = api_type
    return dropdown

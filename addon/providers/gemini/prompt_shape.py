"""Gemini's prompt as its cache sees it: tools, the system instruction, then each content."""

from __future__ import annotations

from addon.cache.prompt_units import PromptUnit, UnitList
from addon.providers.gemini.request_parser import request_of


def prompt_units(body: dict, reuse: dict[tuple, list[PromptUnit]] | None = None) -> list[PromptUnit]:
    body = request_of(body)  # Gemini CLI's wrapper: the model and project are not prompt
    units = UnitList(reuse)
    units.each("tools", body.get("tools"))
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system is not None:
        units.value(("systemInstruction",), system)
    units.each("contents", body.get("contents"))
    return units.units

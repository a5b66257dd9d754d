"""A person at a handset: ``onecard sim phone``, a line-based console around one Handset.

Commands (one per line): ``menu``, ``press N|TEXT``, ``select N|TEXT``, ``input TEXT``,
``cancel``, ``inbox``, ``screen``, ``help``, ``quit``. The handset stays bound to its SMSC
meanwhile, so OTA commands and SMS arrive while the person reads.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from sim_emulator.errors import HandsetError
from sim_emulator.handset import Fleet, Handset
from stk.commands import GetInput, SelectItem

HELP = ("menu | press N|TEXT | select N|TEXT | input TEXT | cancel | inbox | screen | help | "
        "quit")


def _pick(choices: list[str], answer: str) -> str:
    """A choice by its number (1-based) or its text."""
    if answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1]
    return answer


def describe_screen(handset: Handset) -> list[str]:
    lines = [f"menu: {' | '.join(handset.menu_items) or '(none)'}"]
    lines += [f"shown: {text}" for text in handset.screen.texts[-3:]]
    waiting = handset.screen.waiting
    if isinstance(waiting, SelectItem):
        items = " | ".join(f"{i}. {item.text}" for i, item in enumerate(waiting.items, 1))
        title = waiting.alpha.text if waiting.alpha else ""
        lines.append(f"choose: {title} {items}")
    elif isinstance(waiting, GetInput):
        lines.append(f"input wanted: {waiting.prompt.text}")
    return lines


async def handle(handset: Handset, line: str, say: Callable[[str], None]) -> bool:
    """Run one console command; False when the person quits."""
    verb, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if verb in ("quit", "exit"):
        return False
    try:
        if verb == "press":
            await handset.press_menu(_pick(handset.menu_items, rest))
        elif verb == "select":
            waiting = handset.screen.waiting
            items = [i.text for i in waiting.items] if isinstance(waiting, SelectItem) else []
            await handset.select_item(_pick(items, rest))
        elif verb == "input":
            await handset.type_input(rest)
        elif verb == "cancel":
            await handset.cancel()
        elif verb == "inbox":
            for message in handset.inbox:
                say(f"{message.at:%H:%M:%S} {message.source}: {message.text}")
            return True
        elif verb not in ("menu", "screen"):
            say(HELP)
            return True
    except HandsetError as exc:
        say(f"! {exc}")
    for text in describe_screen(handset):
        say(text)
    return True


async def run_console(fleet: Fleet, handset: Handset) -> None:
    loop = asyncio.get_running_loop()
    async with fleet:
        print(f"handset {handset.msisdn} ({handset.card.state.iccid}); {HELP}", flush=True)
        for text in describe_screen(handset):
            print(text, flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if not await handle(handset, line, lambda text: print(text, flush=True)):
                return

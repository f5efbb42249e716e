//! `oneshot exec` steps run as a workflow runs them.

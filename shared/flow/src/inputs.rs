//! Resolving supplied input values against a flow's declarations (filled in below).

//! Caller authentication (API keys to organisations, scopes, tower layer) and AWS role assumption per seller integration.

// Engine and WCCP both export a type named `RedirectAssignment` (the engine's
// compiled form vs the REDIRECT_ASSIGN payload), and `Engine.X` names the
// Engine class, not the module. This file imports only Engine, so the alias
// below is unambiguous for the WCCP glue that imports both.

import Engine

/// The engine's assignment of a redirect service (hash buckets or mask sets).
typealias EngineRedirectAssignment = RedirectAssignment

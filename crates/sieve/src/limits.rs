//! The bounds of compiling and running a script, with Pigeonhole's defaults
//! where Pigeonhole has one.

/// Every bound the compiler and the interpreter keep. A script that goes
/// past one at compile time does not compile; a run that goes past one ends
/// with a [`RuntimeError`](crate::RuntimeError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest script accepted, in bytes (Pigeonhole's `sieve_max_script_size`: 1 MiB).
    pub max_script_size: usize,
    /// Deepest nesting of blocks (`if` inside `if`...): 32.
    pub max_block_nesting: usize,
    /// Deepest nesting of tests (`not`, `anyof`, `allof` inside each other): 32.
    pub max_test_nesting: usize,
    /// Largest compiled regular expression, in bytes of regex-lite's program: 64 KiB.
    pub max_regex_size: usize,
    /// Redirects one run may perform (Pigeonhole's `sieve_max_redirects`): 4.
    pub max_redirects: usize,
    /// Actions one run may perform (Pigeonhole's `sieve_max_actions`): 32.
    pub max_actions: usize,
    /// Work one run may do: every command and test counts one, every
    /// comparison one more per 256 bytes it looks at: 1,000,000.
    pub max_instructions: u64,
    /// Deepest chain of `include`s (Pigeonhole's `sieve_include_max_nesting_depth`): 10.
    pub max_include_depth: usize,
    /// Scripts one run may include in all (Pigeonhole's `sieve_include_max_includes`): 255.
    pub max_includes: usize,
    /// Longest value a variable holds; longer ones are cut (Pigeonhole: 4 KiB).
    pub max_variable_size: usize,
    /// Variables one script may set (Pigeonhole's `sieve_variables_max_scope_size`): 255.
    pub max_variables: usize,
    /// Longest header field value a test looks at, decoded; the rest is ignored: 64 KiB.
    pub max_header_size: usize,
    /// Most text the `body` test looks at, all parts together: 1 MiB.
    pub max_body_size: usize,
    /// Shortest and longest vacation period, in seconds (Pigeonhole: 1 day and 60 days).
    pub vacation_min_period: u64,
    pub vacation_max_period: u64,
    /// Vacation period when the script names none: 7 days.
    pub vacation_default_period: u64,
    /// Longest `duplicate :seconds` honoured (Pigeonhole: 7 days), and the
    /// default (Pigeonhole: 12 hours).
    pub duplicate_max_period: u64,
    pub duplicate_default_period: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_script_size: 1 << 20,
            max_block_nesting: 32,
            max_test_nesting: 32,
            max_regex_size: 64 << 10,
            max_redirects: 4,
            max_actions: 32,
            max_instructions: 1_000_000,
            max_include_depth: 10,
            max_includes: 255,
            max_variable_size: 4 << 10,
            max_variables: 255,
            max_header_size: 64 << 10,
            max_body_size: 1 << 20,
            vacation_min_period: 86_400,
            vacation_max_period: 60 * 86_400,
            vacation_default_period: 7 * 86_400,
            duplicate_max_period: 7 * 86_400,
            duplicate_default_period: 12 * 3_600,
        }
    }
}

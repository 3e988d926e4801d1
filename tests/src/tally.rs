//! Tallies: structs of counts that add up field by field, as the tallies of
//! several polls or instances are summed into one.

/// How one field of a tally adds up: counts add, a flag stays set once set.
pub trait Accumulate {
    fn accumulate(&mut self, other: Self);
}

impl Accumulate for usize {
    fn accumulate(&mut self, other: Self) {
        *self += other;
    }
}

impl Accumulate for u64 {
    fn accumulate(&mut self, other: Self) {
        *self += other;
    }
}

impl Accumulate for bool {
    fn accumulate(&mut self, other: Self) {
        *self |= other;
    }
}

/// Defines a struct whose fields all [`Accumulate`], with the `+=` that adds
/// two of them field by field (a tally can be a field of another tally).
#[macro_export]
macro_rules! tally {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl std::ops::AddAssign for $name {
            fn add_assign(&mut self, other: Self) {
                $($crate::tally::Accumulate::accumulate(&mut self.$field, other.$field);)*
            }
        }

        impl $crate::tally::Accumulate for $name {
            fn accumulate(&mut self, other: Self) {
                *self += other;
            }
        }
    };
}

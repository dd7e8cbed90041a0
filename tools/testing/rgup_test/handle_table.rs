// SPDX-License-Identifier: GPL-2.0

//! Per-file tables of objects named by handles, as `/dev/rgup` hands them out (pins, mirrors).

use kernel::{
    mm::Mm,
    prelude::*,
    sync::aref::ARef, //
};

/// An object of a table and the process (mm) that made it.
struct Entry<T> {
    object: T,
    /// Held (`mmgrab`) so that the address cannot be reused by another mm while the entry lives.
    owner: ARef<Mm>,
}

/// Objects of one open file, named by handles `1..=MAX`.
///
/// A handle is reachable only from the process that made the object: a child that inherited the
/// file (the same table) gets `ENOENT` for its parent's handles, and the other way round.
/// Dropping the table (closing the file) drops every object in it, whoever made it.
pub(crate) struct HandleTable<T, const MAX: usize> {
    slots: KVec<Option<Entry<T>>>,
}

impl<T, const MAX: usize> Default for HandleTable<T, MAX> {
    fn default() -> Self {
        Self { slots: KVec::new() }
    }
}

/// The calling process's mm.
fn current_mm() -> Result<ARef<Mm>> {
    Ok(ARef::from(&**current!().mm().ok_or(ESRCH)?))
}

impl<T, const MAX: usize> HandleTable<T, MAX> {
    /// Adds `object`, made by the calling process; `ENOSPC` when `MAX` are in use.
    pub(crate) fn insert(&mut self, object: T) -> Result<u32> {
        let entry = Entry {
            object,
            owner: current_mm()?,
        };
        let index = match self.slots.iter().position(Option::is_none) {
            Some(free) => {
                self.slots[free] = Some(entry);
                free
            }
            None if self.slots.len() < MAX => {
                self.slots.push(Some(entry), GFP_KERNEL_ACCOUNT)?;
                self.slots.len() - 1
            }
            None => return Err(ENOSPC),
        };
        // `index < MAX <= u32::MAX`, so the handle fits.
        Ok(index as u32 + 1)
    }

    /// The slot of `handle` if it holds an object of the calling process.
    fn slot(&mut self, handle: u32) -> Result<&mut Option<Entry<T>>> {
        let index = (handle as usize).checked_sub(1).ok_or(ENOENT)?;
        let caller = current!().mm().ok_or(ESRCH)?.as_raw();
        match self.slots.get_mut(index) {
            Some(slot) if slot.as_ref().is_some_and(|e| e.owner.as_raw() == caller) => Ok(slot),
            _ => Err(ENOENT),
        }
    }

    /// The object of `handle` (`ENOENT` if none, or another process's).
    pub(crate) fn get(&mut self, handle: u32) -> Result<&mut T> {
        Ok(&mut self.slot(handle)?.as_mut().ok_or(ENOENT)?.object)
    }

    /// Takes the object of `handle` out of the table.
    pub(crate) fn remove(&mut self, handle: u32) -> Result<T> {
        Ok(self.slot(handle)?.take().ok_or(ENOENT)?.object)
    }

    /// Every object of the table, of every process.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten().map(|e| &e.object)
    }
}

//! The app hash: a hash chain over each block's sorted change set.
//!
//! `app_hash(H) = sha256("um/apphash/v1" ‖ app_hash(H-1) ‖ H ‖ changes(H))`
//! where every change is length-prefixed and the set is in key order. It
//! commits to the whole state because the state is the fold of all change
//! sets from genesis; it gives no inclusion proofs (a Merkle tree is the
//! planned successor).

use sha2::{Digest, Sha256};

use super::Changes;

pub fn next_app_hash(previous: &[u8], height: u64, changes: &Changes) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(b"um/apphash/v1");
    hasher.update((previous.len() as u64).to_be_bytes());
    hasher.update(previous);
    hasher.update(height.to_be_bytes());
    hasher.update((changes.len() as u64).to_be_bytes());
    for (key, value) in changes {
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key);
        match value {
            Some(value) => {
                hasher.update([1u8]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value);
            }
            None => hasher.update([0u8]),
        }
    }
    hasher.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_input() {
        let mut changes = Changes::new();
        changes.insert(b"a".to_vec(), Some(b"1".to_vec()));
        let base = next_app_hash(b"prev", 5, &changes);
        assert_eq!(base, next_app_hash(b"prev", 5, &changes));
        assert_ne!(base, next_app_hash(b"prev", 6, &changes));
        assert_ne!(base, next_app_hash(b"prex", 5, &changes));
        let mut deleted = Changes::new();
        deleted.insert(b"a".to_vec(), None);
        assert_ne!(base, next_app_hash(b"prev", 5, &deleted));
        // Length prefixes keep ("ab","c") apart from ("a","bc").
        let mut split1 = Changes::new();
        split1.insert(b"ab".to_vec(), Some(b"c".to_vec()));
        let mut split2 = Changes::new();
        split2.insert(b"a".to_vec(), Some(b"bc".to_vec()));
        assert_ne!(
            next_app_hash(b"", 1, &split1),
            next_app_hash(b"", 1, &split2)
        );
    }
}

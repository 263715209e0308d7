//! The Lease as a lock: Get, Create and Update, where Update always sends
//! the resourceVersion last seen so that a concurrent writer makes it fail
//! with 409 Conflict (client-go's `LeaseLock`).

use crate::record::Record;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, ObjectMeta, PostParams};

pub(crate) struct LeaseLock {
    api: Api<Lease>,
    name: String,
    /// The Lease as last read or written; its resourceVersion guards updates.
    cached: Option<Lease>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("lease was never read, nothing to update")]
    NotRead,
    #[error(transparent)]
    Api(#[from] kube::Error),
}

impl LockError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, LockError::Api(kube::Error::Api(s)) if s.code == 409)
    }
}

impl LeaseLock {
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            cached: None,
        }
    }

    /// The current record, or `None` when the Lease does not exist.
    pub async fn get(&mut self) -> Result<Option<Record>, LockError> {
        match self.api.get_opt(&self.name).await? {
            Some(lease) => {
                let record = Record::from_spec(lease.spec.as_ref());
                self.cached = Some(lease);
                Ok(Some(record))
            }
            None => Ok(None),
        }
    }

    pub async fn create(&mut self, record: &Record) -> Result<(), LockError> {
        let mut spec = LeaseSpec::default();
        record.write_into(&mut spec);
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        };
        let created = self.api.create(&PostParams::default(), &lease).await?;
        self.cached = Some(created);
        Ok(())
    }

    /// Replace the record, guarded by the cached resourceVersion.
    pub async fn update(&mut self, record: &Record) -> Result<(), LockError> {
        let mut lease = self.cached.clone().ok_or(LockError::NotRead)?;
        record.write_into(lease.spec.get_or_insert_with(LeaseSpec::default));
        let updated = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        self.cached = Some(updated);
        Ok(())
    }
}

// The app's one Entra credential for storage (managed identity), shared by every Table and queue client
// of the process: one token cache, so the first webhook fetches one storage token, not one per client;
// and the REST senders' endpoints built from the storage settings with it.
import {
  storageEndpointFromConnectionString,
  type StorageEndpoint,
  type TokenCredential,
} from './restTransport.js';

const credentials = new Map<string, Promise<TokenCredential>>();

/** A user-assigned identity when `clientId` is given, else DefaultAzureCredential (system-assigned in Azure). */
export function storageCredential(clientId: string | undefined): Promise<TokenCredential> {
  const key = clientId ?? '';
  let credential = credentials.get(key);
  if (!credential) {
    // Loaded lazily: connection-string storage (Azurite, tests) never needs it.
    credential = import('@azure/identity').then(
      ({ DefaultAzureCredential, ManagedIdentityCredential }) =>
        clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential(),
    );
    credential.catch(() => credentials.delete(key));
    credentials.set(key, credential);
  }
  return credential;
}

/**
 * A service's endpoint for the REST senders from the storage settings: the connection string's, or the
 * service URI with the process's one Entra credential (below); `undefined` when not configured.
 */
export async function restEndpoint(
  storage:
    | { kind: 'connectionString'; connectionString: string }
    | { kind: 'identity'; serviceUri: string; clientId?: string | undefined }
    | { kind: 'none' },
  service: 'queue' | 'table',
): Promise<StorageEndpoint | undefined> {
  switch (storage.kind) {
    case 'connectionString':
      return storageEndpointFromConnectionString(storage.connectionString, service);
    case 'identity': {
      return {
        url: storage.serviceUri.replace(/\/+$/, ''),
        auth: { kind: 'token', credential: await storageCredential(storage.clientId) },
      };
    }
    case 'none':
      return undefined;
  }
}

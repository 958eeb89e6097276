// The app's one Entra credential for storage (managed identity), shared by every Table and queue client
// of the process: one token cache, so the first webhook fetches one storage token, not one per client.
import type { TokenCredential } from './restTransport.js';

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

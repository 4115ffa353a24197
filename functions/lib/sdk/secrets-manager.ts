import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).secretsManager` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('secretsManager', (config) => new SecretsManagerClient(config));

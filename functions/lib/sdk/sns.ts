import { SNSClient } from '@aws-sdk/client-sns';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).sns` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('sns', (config) => new SNSClient(config));

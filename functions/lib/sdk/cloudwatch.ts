import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).cloudwatch` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('cloudwatch', (config) => new CloudWatchClient(config));

import { S3Client } from '@aws-sdk/client-s3';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).s3` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('s3', (config) => new S3Client(config));

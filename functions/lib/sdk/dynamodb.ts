import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { provideClient } from '../clients.js';

/** Makes `clientsFor(...).dynamodb` available to the bundle that imports this module (docs/design/packaging.md, "Bundle size"). */
provideClient('dynamodb', (config) => new DynamoDBClient(config));

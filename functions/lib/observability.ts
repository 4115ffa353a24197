import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One logger for every step. It logs identifiers, statuses and timings only: no step passes a secret value
 * to it, and the report/handler code never logs whole SDK responses of Secrets Manager.
 */
export const logger = new Logger({ serviceName: 'lifeboat' });

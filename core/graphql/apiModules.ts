import type { ApiModule } from './apiModule.js';
import { webhookApi } from './webhookApi.js';
import { scheduleApi } from './scheduleApi.js';

/** The feature modules whose SDL and resolvers extend the base schema (see apiModule.ts). */
export const API_MODULES: readonly ApiModule[] = [webhookApi, scheduleApi];
